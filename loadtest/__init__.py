"""Load and proof: seeded traffic, the load generator, what each answer implies, and the
end-to-end invariants checked afterwards."""
