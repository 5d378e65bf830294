"""The paper's tables, regenerated: download -> prepare -> train -> sample -> evaluate -> compare.

    make reproduce-cifar10 [PROFILE=paper|smoke]       python -m reproduce.run cifar10 --profile paper
    make table1 | table2 | table3 | celebahq | lsun | ddim-table
    make eval-official CKPT=netG_1200.pth PRESET=cifar10
    make compare                                       results/comparison/{comparison.md,*.csv,trilemma.png}

Modules, one concern each:
    targets      what each target prepares, trains and evaluates
    profiles     paper settings, or tiny ones for the smoke profile (minutes on a CPU)
    smoke_data   procedural archives in the real download formats (smoke profile)
    pipeline     the stages of a target; stages: resumable stage markers
    launch       training in one process (no GPU) or through `accelerate launch` on every visible GPU
    evaluation   sampling and ddgan.evaluate, rows appended to results/<dataset>/metrics.jsonl
    official_eval  evaluation of a released checkpoint
    reported     the reported numbers (results/reported/) and which rows this package reproduces
    compare      verdicts per cell; report: comparison.md; figure: the trilemma plot

Several nodes: print the training commands with `python -m reproduce.run TARGET --print-commands`,
start each on every node with the multi-node `accelerate launch` options (see reproduce.launch),
then run the make target on one node; it continues with evaluation and the comparison.
"""
