"""devflow_tui.routing"""
