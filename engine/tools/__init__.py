"""Tools for the people who build ris: speed benchmarks (`just bench`, `bench-stores`,
`bench-latency`) and accuracy benchmarks (`ris eval`). Nothing of the engine imports them."""
