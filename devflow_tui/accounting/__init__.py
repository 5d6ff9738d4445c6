"""devflow_tui.accounting"""
