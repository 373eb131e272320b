"""Business logic, one module per resource, operating on an AsyncSession."""
