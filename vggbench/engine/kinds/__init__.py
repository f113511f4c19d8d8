"""The measurement kinds, one module each; `vggbench.engine.registry` lists them."""
