"""devflow_tui.context"""
