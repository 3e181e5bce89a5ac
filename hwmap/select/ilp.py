"""The path-selection ILP (the only module that imports pulp, and only when a problem is solved).

Semantics: :mod:`hwmap.select.problem`. Candidates c_1..c_n are the paths left by
:func:`~hwmap.select.problem.candidates`, sorted by the level metric; level groups g are the levels with the same
fitting set ``c_1..c_{k_g}``, with weights W_g summing to 1. Common parts:

* ``x_i`` binary: path i is selected.
* Memory: per weight group G with distinct candidate weights w_1 < ... < w_m, ``u_{G,j}`` in [0, 1] with
  ``u_{G,j} >= x_i`` for the paths i of weight w_j, ``u_{G,j} >= u_{G,j+1}``; the group's memory is
  ``sum_j (w_j - w_{j-1}) u_{G,j}`` (= its largest selected weight when x is binary); the sum is <= memory_mb.
* ``sum_i x_i <= max_paths``.

Objective A with neither max_paths nor a penalty (the common case) uses the *chain* formulation
(:meth:`_Model._chain`): the paths that run form a chain in budget order, and the ILP is a longest path with
memory side constraints, its arcs pruned by free insertion. Otherwise, the *levels* formulation:

* ``y_{g,i}`` in [0, 1] for i <= k_g: group g runs path i. ``sum_i y_{g,i} = 1`` (every level is served);
  ``y_{g,i} <= x_i`` at the first group where i fits and ``y_{g,i} <= y_{g',i}`` for the previous group g'
  where i fits (under the rule a path runs on a contiguous run of groups starting where it first fits: once a
  better-ranked selected path fits, it fits at every larger budget too).
* Objective A: maximise ``sum_g W_g sum_i acc_i y_{g,i} - penalty * (sum_i x_i - 1)``.
* Objective B: per target point t, ``v_{t,i}`` in [0, 1] for the paths within its energy, ``sum_i v_{t,i} <= 1``,
  ``v_{t,i} <= x_i``, shortfall ``s_t >= target_t - sum_i acc_i v_{t,i}``, ``s_t >= 0``; minimise
  ``sum_t W_t s_t + penalty * (sum_i x_i - 1)``.

Why the rule "the best-ranked selected path that fits runs" needs no constraints of its own in the levels
formulation (y and v may be continuous): for a fixed binary x the y-part is an assignment LP whose optimum puts
each group on a most accurate selected path that fits, i.e. the rule's accuracy; running a worse path somewhere
only lowers goal A, and the rule's own run of the same x is feasible (it satisfies the contiguity
constraints). max_paths and memory constrain x only, so this holds under them too. For goal B the levels
enter the first objective only through feasibility, and the shortfall is non-increasing in
``sum_i acc_i v_{t,i}``, which is largest when v_t sits on the most accurate selected path within the target's
energy: exactly the rule's "best selected accuracy within that energy". Any other v is no better. So optimising
over (x, y, v, s) optimises the rule's objective over x; only x is read back, and the run table is recomputed
from x by the rule (:func:`~hwmap.select.problem.build_selection`).

Tie-break (lower expected energy for A, higher expected accuracy for B), folded into one solve: the objective is
``first / TIE_TOL -/+ second`` where second is normalised to [0, 1] (expected energy / the largest candidate
energy; expected accuracy / 100). A first-objective gain of TIE_TOL = 1e-4 accuracy points outweighs any
tie-break difference, so the result is the exact lexicographic optimum whenever distinct objective values (and
path accuracies) differ by more than 1e-4 points, and within 1e-4 points of the optimum otherwise. (One solve
instead of two: fixing the first optimum and re-solving doubled the time on the benchmark.)
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Iterable, Sequence
from typing import Any

from hwmap.errors import HwmapError
from hwmap.select.problem import (
    BudgetLevel,
    PathPoint,
    Selection,
    SelectionProblem,
    SelectionTerms,
    build_selection,
    candidates,
    check_feasible,
    evaluate,
    level_groups,
    make_problem,
    rank_key,
    useful_subset,
)

SOLVERS: tuple[str, ...] = ("auto", "cbc", "highs")

#: Accuracy points a tie-break may never outweigh (see the module docstring).
TIE_TOL = 1e-4


def available_solvers() -> tuple[str, ...]:
    """The solver names usable here: 'cbc' (bundled with PuLP) and 'highs' when ``pulp.HiGHS`` is available."""
    import pulp

    names = []
    if _cbc(pulp, time_limit_s=None).available():
        names.append("cbc")
    highs = getattr(pulp, "HiGHS", None)
    if highs is not None:
        try:
            if highs(msg=False).available():
                names.append("highs")
        except Exception:  # noqa: BLE001 - a broken optional backend is just unavailable
            pass
    return tuple(names)


def _cbc(pulp: Any, *, time_limit_s: float | None) -> Any:
    # COIN_CMD on the CBC binary bundled with PuLP (PULP_CBC_CMD is the deprecated spelling of the same).
    # The LP relaxation is tight, so CBC's feasibility pump and cut rounds mostly cost time here (seconds on the
    # 500 x 200 benchmark); its cheaper heuristics stay on.
    return pulp.COIN_CMD(
        path=pulp.PULP_CBC_CMD.pulp_cbc_path,
        msg=False,
        timeLimit=time_limit_s,
        gapRel=0.0,
        options=["feasibilityPump off", "cuts off"],
    )


def _backend(name: str, time_limit_s: float | None) -> tuple[str, Any]:
    """The solver's resolved name and its PuLP backend."""
    import pulp

    if name not in SOLVERS:
        raise HwmapError(f"solver is {name!r}; expected one of {', '.join(map(repr, SOLVERS))}")
    available = available_solvers()
    if name == "auto":
        name = "highs" if "highs" in available else "cbc"
    if name not in available:
        raise HwmapError(
            f"solver {name!r} is not available here (available: {', '.join(available) or 'none'}); "
            + ("install highspy for HiGHS" if name == "highs" else "reinstall pulp, which bundles CBC")
        )
    if name == "highs":
        return name, pulp.HiGHS(msg=False, timeLimit=time_limit_s, gapRel=0.0)
    return name, _cbc(pulp, time_limit_s=time_limit_s)


def select_paths(
    paths: Iterable[Any],
    levels: Iterable[BudgetLevel],
    terms: SelectionTerms | None = None,
    *,
    reference: str | None = None,
    solver: str = "cbc",
    time_limit_s: float | None = None,
    **term_keywords: Any,
) -> Selection:
    """Choose the set of paths to deploy (semantics: :mod:`hwmap.select.problem`) under ``terms`` (a
    SelectionTerms: limits, goal, target points), or under the SelectionTerms made from ``term_keywords``.

    Raises HwmapError for bad inputs and InfeasibleSelectionError (one line, naming the smallest budget or
    memory, or the largest min_accuracy, that would work) when no selection serves every level.
    ``solver``: 'cbc' (default: the CBC bundled with PuLP), 'highs' (needs highspy, through ``pulp.HiGHS``) or
    'auto' (HiGHS when available, else CBC). CBC is the default because it is always there and silent: HiGHS
    prints its banner on stdout even with output off, which would corrupt ``--json`` output. Both give the
    same optimum; on the 500 x 200 benchmark their times are alike.
    ``time_limit_s``: stop the solver then and report its best selection with status 'feasible'.
    ``reference``: the path savings are measured against (``Selection.full_model``); default the most expensive
    path by energy.
    """
    problem = make_problem(paths, levels, terms, reference=reference, **term_keywords)
    return solve(problem, solver=solver, time_limit_s=time_limit_s)


def solve(
    problem: SelectionProblem,
    *,
    solver: str = "cbc",
    time_limit_s: float | None = None,
    presolve: bool = True,
) -> Selection:
    """Solve a validated problem (see :func:`select_paths`).

    With ``presolve`` (default) the ILP is skipped when keeping every candidate is feasible and there is no
    penalty: then at every level the most accurate (then cheapest) candidate runs and every target point sees
    the best candidate, which no selection beats on either objective or tie-break; ``solver`` is then reported
    as 'presolve'.
    """
    if time_limit_s is not None and not time_limit_s > 0:
        raise HwmapError(f"time_limit_s is {time_limit_s!r}; expected a positive number of seconds")
    check_feasible(problem)
    solver_name, backend = _backend(solver, time_limit_s)
    cands = candidates(problem)
    if presolve and problem.terms.extra_path_penalty == 0:
        everything = useful_subset(problem, cands)
        if evaluate(problem, everything).feasible:
            return build_selection(
                problem, everything, solver="presolve", status="optimal", solve_time_s=0.0, candidates=len(cands)
            )
    model = _Model(problem, cands)
    chosen, status, seconds = model.solve(backend)
    return build_selection(
        problem, chosen, solver=solver_name, status=status, solve_time_s=seconds, candidates=len(cands)
    )


class _Model:
    """The PuLP model of one problem."""

    def __init__(self, problem: SelectionProblem, cands: Sequence[PathPoint]) -> None:
        import pulp

        self.pulp = pulp
        self.problem = problem
        metric = problem.metric
        self.paths = sorted(cands, key=lambda p: (p.metric_value(metric), rank_key(p)))
        self.groups = level_groups(problem, self.paths)
        accuracy = problem.terms.goal == "accuracy"
        self.lp = pulp.LpProblem("path_selection", pulp.LpMaximize if accuracy else pulp.LpMinimize)
        self.x = [self._var(f"x{i}", cat="Binary") for i in range(len(self.paths))]
        self.n_selected = pulp.LpAffineExpression([(x, 1.0) for x in self.x])
        self._memory()
        if problem.terms.max_paths is not None and problem.terms.max_paths < len(self.paths):
            self._add(self.n_selected, "<=", problem.terms.max_paths, "max_paths")
        penalty = problem.terms.extra_path_penalty
        # The chain formulation relies on free insertions (see _chain): no max_paths and no penalty.
        self.formulation = "chain" if accuracy and problem.terms.max_paths is None and penalty == 0 else "levels"
        if self.formulation == "chain":
            self._chain()
            first = self.level_acc
        else:
            self._levels()
            if accuracy:
                first = self.level_acc - penalty * self.n_selected + penalty
            else:
                first = self._frontier() + penalty * self.n_selected - penalty
        if accuracy:  # maximise accuracy, then minimise energy
            scale = max((p.energy_mj for p in self.paths), default=0.0) or 1.0
            objective = first * (1.0 / TIE_TOL) - self.level_energy * (1.0 / scale)
        else:  # minimise shortfall, then maximise accuracy
            objective = first * (1.0 / TIE_TOL) - self.level_acc * (1.0 / 100.0)
        self.lp.setObjective(objective)

    # -- building blocks

    def _var(self, name: str, low: float = 0.0, high: float = 1.0, cat: str = "Continuous") -> Any:
        add = getattr(self.lp, "add_variable", None)  # PuLP >= 3.3; plain LpVariable before
        if add is not None:
            return add(name, low, high, cat=cat)
        return self.pulp.LpVariable(name, low, high, cat=cat)

    def _add(self, expr: Any, sense: str, rhs: float, name: str) -> None:
        pulp = self.pulp
        code = {"<=": pulp.LpConstraintLE, ">=": pulp.LpConstraintGE, "==": pulp.LpConstraintEQ}[sense]
        self.lp.addConstraint(pulp.LpConstraint(expr, code, name=name, rhs=rhs))

    def _expr(self, terms: list[tuple[Any, float]]) -> Any:
        return self.pulp.LpAffineExpression(terms)

    def _memory(self) -> None:
        if self.problem.terms.memory_mb is None:
            return
        by_group: dict[str, dict[float, list[int]]] = {}
        for i, p in enumerate(self.paths):
            by_group.setdefault(p.group_key, {}).setdefault(p.weight_mb, []).append(i)
        terms: list[tuple[Any, float]] = []
        for gi, weights in enumerate(by_group.values()):
            previous_w, previous_u = 0.0, None
            for j, w in enumerate(sorted(weights)):
                step = w - previous_w
                if step <= 0:  # a weight of 0 costs nothing
                    continue
                u = self._var(f"u{gi}_{j}")
                terms.append((u, step))
                for i in weights[w]:
                    self._add(self._expr([(u, 1.0), (self.x[i], -1.0)]), ">=", 0.0, f"mu{gi}_{i}")
                if previous_u is not None:  # paying for w_j means paying for every smaller weight too
                    self._add(self._expr([(previous_u, 1.0), (u, -1.0)]), ">=", 0.0, f"mc{gi}_{j}")
                previous_w, previous_u = w, u
        if terms:
            self._add(self._expr(terms), "<=", self.problem.terms.memory_mb, "memory_mb")

    def _levels(self) -> None:
        acc_terms: list[tuple[Any, float]] = []
        energy_terms: list[tuple[Any, float]] = []
        last: dict[int, Any] = {}  # path index -> its y in the previous group where it fits
        for g, group in enumerate(self.groups):
            ys = []
            for i in range(group.prefix):
                p = self.paths[i]
                y = self._var(f"y{g}_{i}")
                ys.append((y, 1.0))
                upper = last.get(i, self.x[i])
                self._add(self._expr([(upper, 1.0), (y, -1.0)]), ">=", 0.0, f"yx{g}_{i}")
                last[i] = y
                if group.weight > 0:
                    acc_terms.append((y, group.weight * p.accuracy))
                    energy_terms.append((y, group.weight * p.energy_mj))
            self._add(self._expr(ys), "==", 1.0, f"serve{g}")
        self.level_acc = self._expr(acc_terms)
        self.level_energy = self._expr(energy_terms)

    def _chain(self) -> None:
        """Objective A as a longest path: the paths that run, in budget order, form a chain.

        Under the run rule the paths of a selection that run at some level, sorted by the level where they first
        fit (their entry group), have strictly better ranks: each runs from its entry group until the next one
        enters. So a selection is a path source -> p_1 -> ... -> p_r -> sink with p_1 fitting the smallest level,
        arc i -> j allowed when j enters later and ranks above i, worth acc_i times the weight of the groups from
        entry(i) to entry(j) - 1 (to the last group for i -> sink). ``x_i`` = flow through i (in = out = x_i,
        one unit leaves the source). With binary x the flow is the chain itself: every unit path must pass every
        selected node, and arcs only join consecutive ones.

        Pruning by free insertion (valid because there is no max_paths and no penalty): arc i -> j (or i -> sink)
        is dropped when a path k with entry(i) < entry(k) < entry(j), ranked above i, is in the weight group of i
        (or of j) with weight_mb <= that of i (or j). Adding k to a selection that uses i -> j costs no memory
        (the group already pays at least w_k), and k then runs from entry(k), so accuracy and the energy
        tie-break are no worse at every level: some lexicographic optimum uses no dropped arc (repeat the
        insertion; each adds a path, so it ends). This cuts the arcs from O(n^2) to about n x groups.
        """
        paths, groups = self.paths, self.groups
        n = len(paths)
        prefixes = [g.prefix for g in groups]
        entry = [bisect.bisect_right(prefixes, i) for i in range(n)]  # first group where path i fits
        cum = [0.0]
        for g in groups:
            cum.append(cum[-1] + g.weight)
        rank = {p.name: r for r, p in enumerate(sorted(paths, key=rank_key))}
        ranks = [rank[p.name] for p in paths]
        keys = [p.group_key for p in paths]
        weights = [p.weight_mb for p in paths]
        by_entry = sorted(range(n), key=lambda j: entry[j])

        inflow: list[list[tuple[Any, float]]] = [[] for _ in range(n)]
        outflow: list[list[tuple[Any, float]]] = [[] for _ in range(n)]
        source: list[tuple[Any, float]] = []
        acc_terms: list[tuple[Any, float]] = []
        energy_terms: list[tuple[Any, float]] = []

        def arc(name: str, i: int, j: int | None) -> None:
            f = self._var(name)
            span = (cum[-1] if j is None else cum[entry[j]]) - cum[entry[i]]
            acc_terms.append((f, span * paths[i].accuracy))
            energy_terms.append((f, span * paths[i].energy_mj))
            outflow[i].append((f, 1.0))
            if j is not None:
                inflow[j].append((f, 1.0))

        for i in by_entry:  # in entry order, so a path's inflow is complete before its arcs out are made
            if entry[i] == 0:
                f = self._var(f"s_{i}")
                source.append((f, 1.0))
                inflow[i].append((f, 1.0))
            if not inflow[i]:  # unreachable (no chain gets here): no arcs out, and x_i = 0 below
                continue
            blockers: dict[str, float] = {}  # group -> smallest weight of a path ranked above i seen so far
            free_self = False
            k = 0
            later = [j for j in by_entry if entry[j] > entry[i]]
            while k < len(later) and not free_self:
                batch_entry = entry[later[k]]
                batch = []
                while k < len(later) and entry[later[k]] == batch_entry:
                    batch.append(later[k])
                    k += 1
                for j in batch:
                    if ranks[j] < ranks[i] and not blockers.get(keys[j], float("inf")) <= weights[j]:
                        arc(f"a{i}_{j}", i, j)
                for j in batch:
                    if ranks[j] < ranks[i]:
                        blockers[keys[j]] = min(blockers.get(keys[j], float("inf")), weights[j])
                        free_self = free_self or (keys[j] == keys[i] and weights[j] <= weights[i])
            if not free_self:
                arc(f"t_{i}", i, None)
        self._add(self._expr(source), "==", 1.0, "source")
        for i in range(n):
            self._add(self._expr([*inflow[i], (self.x[i], -1.0)]), "==", 0.0, f"in{i}")
            self._add(self._expr([*outflow[i], (self.x[i], -1.0)]), "==", 0.0, f"out{i}")
        self.level_acc = self._expr(acc_terms)
        self.level_energy = self._expr(energy_terms)

    def _frontier(self) -> Any:
        problem = self.problem
        terms: list[tuple[Any, float]] = []
        for t, (target, weight) in enumerate(zip(problem.terms.target_frontier, problem.target_weights(), strict=True)):
            if weight <= 0 or target.accuracy <= 0:
                continue  # contributes nothing: shortfall is always 0
            s = self._var(f"s{t}", 0.0, None)
            terms.append((s, weight))
            vs = []
            cover = [(s, 1.0)]
            for i, p in enumerate(self.paths):
                if p.energy_mj <= target.energy_mj:
                    v = self._var(f"v{t}_{i}")
                    vs.append((v, 1.0))
                    cover.append((v, p.accuracy))
                    self._add(self._expr([(self.x[i], 1.0), (v, -1.0)]), ">=", 0.0, f"vx{t}_{i}")
            if vs:
                self._add(self._expr(vs), "<=", 1.0, f"one{t}")
            self._add(self._expr(cover), ">=", target.accuracy, f"short{t}")
        return self._expr(terms)

    # -- solving

    def solve(self, backend: Any) -> tuple[list[PathPoint], str, float]:
        """Run the solver; return the selected paths, 'optimal' or 'feasible' (time limit), and seconds."""
        pulp = self.pulp
        start = time.perf_counter()
        try:
            self.lp.solve(backend)
        except pulp.PulpSolverError as exc:
            raise HwmapError(f"the ILP solver failed: {exc}") from exc
        seconds = time.perf_counter() - start
        sol_status = getattr(self.lp, "sol_status", None)
        optimal = self.lp.status == 1 and sol_status in (None, 1)
        has_solution = (optimal or sol_status == 2) and all(x.varValue is not None for x in self.x)
        if not has_solution:
            status = pulp.LpStatus.get(self.lp.status, self.lp.status)
            raise HwmapError(
                f"the ILP solver stopped without a selection (status {status}) although one path alone is "
                "feasible; raise time_limit_s or try another solver"
            )
        chosen = [p for p, x in zip(self.paths, self.x, strict=True) if x.varValue > 0.5]
        return chosen, "optimal" if optimal else "feasible", seconds


__all__ = ["SOLVERS", "TIE_TOL", "available_solvers", "select_paths", "solve"]
