"""Write services (orders, invoices, stock), the read API and the plumbing they share."""
