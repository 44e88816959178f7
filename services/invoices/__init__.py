"""Invoices write service: issue an invoice for an order."""
