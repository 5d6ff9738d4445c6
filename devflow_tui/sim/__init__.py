"""devflow_tui.sim"""
