"""From runs to answers: the tidy tables, the memory horizon T50 and its interval, the paired
comparisons and the seed effect, and the simulations that check their coverage. Imports core
only (no torch)."""
