"""The stopping rules a study's `design` key names, one module each (registered in vggbench.verdicts.designs)."""
