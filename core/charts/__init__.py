"""Chart images for replies and alerts. Importing this package loads no plotting library."""

from core.charts.candles import ChartMarker, chart_heading, format_price, render_candles

__all__ = ["ChartMarker", "chart_heading", "format_price", "render_candles"]
