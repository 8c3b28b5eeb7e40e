# The report is built by `snakemake --report`; its captions live in workflow/report/.
