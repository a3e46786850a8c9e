"""The weekly verdict trend: the numbers (selectors), the chart's geometry (pure), the API."""
