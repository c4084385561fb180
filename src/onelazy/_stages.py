"""The pipeline's stage names, in order.

:data:`onelazy.pipeline.PIPELINE` is the table of stages built on these names; the command line
offers them to ``--stop-after`` from here, so that ``onelazy --help`` does not load the pipeline.
"""

STAGES = ("generate", "cull", "review", "build-config", "launch", "compare")
