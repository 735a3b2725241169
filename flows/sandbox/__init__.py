"""Running guest code: building components, the wasmtime engine, linking with
grants, the run itself and its report, and the shape every host capability
has (interface names, HostError, the per-component log).

Imports: flows.project, flows.db, flows.errors; never capabilities, server or devtools."""
