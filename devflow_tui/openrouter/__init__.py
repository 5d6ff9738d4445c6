"""devflow_tui.openrouter"""
