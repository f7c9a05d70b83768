"""Pure domain logic: no Flask, no Redis, no database sessions. Reads and tests on its own."""
