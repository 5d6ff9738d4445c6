"""devflow_tui.tui"""
