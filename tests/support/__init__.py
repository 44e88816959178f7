"""Test and benchmark support: throwaway engines, dbt in-process. Not shipped."""
