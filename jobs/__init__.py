"""Scheduled work (APScheduler): deployed models at candle close, monitoring checks, alert pushes.

Jobs call core services like any adapter and push through the Notifier port each transport implements.
"""
