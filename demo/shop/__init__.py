"""A small, real web shop (catalog, checkout, payments) to break on purpose.

It runs without Django: ``python -m demo.shop --port 8001``. Checkout calls payments over HTTP,
so a fault in payments shows up in checkout too, as it would in production.
"""
