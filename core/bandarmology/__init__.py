"""Bandarmology (Get Broker Summary): who bought and sold a ticker, and whether the big players
accumulate or distribute.

``service.BandarService`` is the entry point; ``provider.BrokerSummaryProvider`` the contract of
the sources (``http``: a paid IDX API; ``store``: users' CSV imports and the synthetic sample;
``crypto``: Binance public trades); ``summary`` ranks brokers and gives the verdict; ``chart``
draws it.
"""
