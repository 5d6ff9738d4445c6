"""devflow_tui.gateway"""
