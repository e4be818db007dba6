// tests written separately
