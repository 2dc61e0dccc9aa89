"""Streamlit-facing code: pure functions of (trace, t, options) first, drawing last."""
