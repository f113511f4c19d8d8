"""The study engine: a configuration in, trials run, tables out.

The contract every measurement kind fulfils (contract) and the kinds themselves (kinds/, listed in registry);
the configuration (config); planning, running and finishing a study (study, rounds, executors, estimate); where
results are kept (store, rundir for a run directory, outputs for a single command)."""
