"""The measurement kinds, one module each; `vggbench.registry` lists them."""
