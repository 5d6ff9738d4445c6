"""The dashboard's screens: main dashboard, history and analytics, models, help."""
