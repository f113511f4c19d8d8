"""Pure statistics, no torch: the two-sample, paired and equivalence tests, power and Holm's adjustment
(hypothesis), and the per-image correctness record the paired accuracy tests read (correctness). They know
nothing of models or runs: numbers in, numbers out."""
