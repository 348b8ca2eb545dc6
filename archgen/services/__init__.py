"""Services: one function per operation that the HTTP routes, the CLI and the job kinds call.

They sit above the domain packages (search, evaluators, generators, predictors, supernets,
training) and below the edges (:mod:`archgen.api`, :mod:`archgen.cli`, :mod:`archgen.bench`):
:mod:`~archgen.services.inference` (predictions, look-ups, zero-cost scores),
:mod:`~archgen.services.predictors` (fitting predictors on a table),
:mod:`~archgen.services.generate` (generation with guidance),
:mod:`~archgen.services.search` (searches), :mod:`~archgen.services.supernets` (a task's
supernet), :mod:`~archgen.services.jobs` (the job kinds' functions and parameter models),
:mod:`~archgen.services.fit_monitor` (a fit's progress and parts as a job's),
:mod:`~archgen.services.checks` (consistency checks against published data).
"""
