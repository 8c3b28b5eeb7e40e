"""What readers see: the report's first page (headline, anchors), its HTML pages, the figures
(plots/) and docs/results.md with the README's generated blocks. Imports analysis and core
(no torch)."""
