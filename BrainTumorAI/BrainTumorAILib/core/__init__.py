"""What every stage shares: images with their affines, cases, input checks, co-registration, N4, labels, the model
registry and weights, verified downloads, the sample cases, atomic writes, errors, devices, and the head phantom the
self-test and demo run on."""
