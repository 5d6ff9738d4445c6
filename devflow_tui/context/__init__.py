"""Context for a request: Claude Code sessions, CLAUDE.md, files, notes, fitted to a window.

Start with `devflow_tui.context.gather.gather_context` (collects sources) and
`ContextSet.assemble` (fits them to a model); the modules below hold the pieces. Nothing is
re-exported here, so importing one small module (the token estimator) stays cheap.
"""
