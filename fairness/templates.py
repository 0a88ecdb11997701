"""The words of the fairness report: page skeleton, section headings and fixed prose.

Kept apart from the code so that the wording can be read and reviewed in one place (the tests
scan this module for words a report must not use). Placeholders are ``string.Template``
``$names``; ``$population`` is the plural noun for the people scored ("children" for
Lantern, "people" for an adult tool such as COMPAS).
"""

from string import Template

SECTIONS = {
    "summary": "Summary",
    "purpose": "Purpose and label definition",
    "uses": "Intended and prohibited uses",
    "caveat": "What recorded outcomes can and cannot show",
    "sizes": "Group sizes and base rates",
    "operating": "Operating point and threshold rationale",
    "results": "Results by group",
    "disparities": "Disparities against the reference group",
    "calibration": "Calibration by group",
    "label_bias": "Recorded and true outcomes",
    "linkage": "Linkage of the records",
    "criterion": "Choice of fairness criterion",
    "baseline": "Comparison with a baseline",
    "changes": "What changed since the last audit",
    "suppressed": "Suppressed cells",
    "method": "How the numbers were made",
}
"""Every section of the report, in order: anchor id -> heading."""

STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, Arial, sans-serif;
       margin: 0 auto; max-width: 1320px; padding: 1rem 2rem 4rem; color: #1a1a1a;
       line-height: 1.45; }
h1 { margin-bottom: 0.2rem; }
h2 { border-bottom: 2px solid #ccc; padding-bottom: 0.2rem; margin-top: 2.4rem; }
h3 { margin-top: 1.6rem; }
.meta { color: #555; margin-top: 0; }
nav ol { columns: 2; font-size: 0.92rem; }
table { border-collapse: collapse; margin: 0.6rem 0 1rem; font-size: 0.86rem; }
th, td { border: 1px solid #d0d0d0; padding: 0.25rem 0.5rem; text-align: right;
         vertical-align: top; }
td { white-space: nowrap; }
.scroll { overflow-x: auto; }
th { background: #f2f2f2; }
td.text, th.text { text-align: left; }
td.flag { background: #fbe3e4; color: #8b0000; font-weight: bold; }
td.suppressed { color: #595959; font-style: italic; }
tr.reference td { background: #f5f8ff; }
.verdict { padding: 0.8rem 1rem; border-radius: 4px; margin: 0.8rem 0; }
.verdict.failed { background: #fbe3e4; border: 2px solid #b2182b; }
.verdict.passed { background: #e6f4ea; border: 2px solid #2e7d32; }
.verdict.none { background: #f2f2f2; border: 2px solid #999; }
.callout { background: #fff8e1; border-left: 5px solid #f0a500; padding: 0.6rem 1rem; }
ul.flags li { color: #8b0000; margin-bottom: 0.3rem; }
img { max-width: 100%; height: auto; display: block; margin: 0.6rem 0; }
.small { font-size: 0.85rem; color: #444; }
"""

DEFAULT_PURPOSE = (
    "Lantern helps a local safeguarding partnership find, early, children who may need "
    "support. Its scores are advisory: a prompt starts a professional conversation and never "
    "decides anything about a child. This audit shows an ethics board how the score treats "
    "each group of children, so the board can decide whether it may be used."
)

NO_LABEL_DEFINITION = (
    "No label definition was given. Before reading any rate below, ask the tool's owner "
    "exactly what the outcome column records, over which period, and who records it."
)

DEFAULT_INTENDED = [
    "To prompt a practitioner to consider, with their own professional judgement, whether "
    "some of these $population may need support, and to record that judgement.",
    "To size a team's list to its capacity and to review, with this audit beside it, who is "
    "on the list.",
    "For an ethics board to decide whether the score may be used, and to repeat this audit "
    "at every retraining.",
]

DEFAULT_PROHIBITED = [
    "Deciding anything about one of these $population on the score alone.",
    "Enforcement, sanction, exclusion, refusal of a service or any other punitive use.",
    "Sharing the flagged list as a list of $population to watch, police or restrict.",
    "Reading a group's higher rate of recorded outcomes as a statement about any one of "
    "these $population.",
    "Using the score on a population this audit has not been repeated on.",
]

CAVEAT = Template("""<p class="callout">The outcome audited here is what was
<em>recorded</em>, which is not the same as what happened or what was needed. Records come
from agencies (police, schools, health, social care) that do not see every group equally: a
group that is watched more is recorded more for the same behaviour, and a group that is
under-served is recorded less for the same need. A score trained on recorded outcomes, and
audited against them, can look accurate and even-handed while carrying that difference
forward, through its labels and through inputs drawn from the same records.</p>
<p>So every base rate, recall, false negative rate and false positive rate in this report
is a rate of recorded outcomes among $population. A disparity here can come from the score,
from the recording, or from both, and a board should not take a group's higher recorded rate
as evidence that those $population need more attention. $truth</p>""")

CAVEAT_WITH_TRUTH = (
    "This audit was also given the true outcomes (known on synthetic data): the section "
    '<a href="#label_bias">Recorded and true outcomes</a> shows each metric against both, '
    "so the share of a disparity that comes from recording can be seen."
)

CAVEAT_WITHOUT_TRUTH = (
    "No true outcomes were given, so this audit cannot separate a difference in recording "
    "from a difference in need."
)

NO_TRUTH = Template("""<p>Not available: no true outcomes were given. On real data the
true outcome is never known; on Lantern's synthetic partnership the generator records it,
and auditing against both shows how much of each disparity comes from how outcomes are
recorded.</p>""")

LABEL_BIAS_INTRO = Template("""<p>Each labelled metric is shown against the recorded
outcome and against the true outcome ($true_label), side by side. Where a group's recorded
and true figures differ, the difference comes from recording, not from the score. Ratios are
to the reference group, as elsewhere.</p>""")

RECORDING_ROWS = Template("""<p>The recorded-to-true base rate and the recording
disparity read no score, so they are measured on every labelled record available ($n rows:
each child at each date whose outcome window has closed), not only the $audited rows scored
here; their intervals are narrower for it, and a child seen at several dates is resampled
whole.</p>""")

CRITERION_INTRO = Template("""<p>The policy checks: $metrics, over $groupings, with the
tolerance band $band. A model fails if any group that is not suppressed has a ratio whose
whole $level interval lies outside the band, or if a grouping cannot be checked at all.</p>""")

METRIC_WHY = {
    "fnr": (
        "False negative rate parity (primary). Among $population who went on to have the "
        "outcome, each group should be missed no more often than the reference group. For an "
        "assistive offer, missing someone who needs support is the harm that matters most, "
        "and a higher miss rate for one group means that group's needs are overlooked."
    ),
    "tpr": (
        "Recall (true positive rate) parity (primary). The same question from the other "
        "side: the share of those with the outcome whom the score finds, per group."
    ),
    "selection_rate": (
        "Selection rate parity. How often each group is flagged at all. A list that "
        "over-represents one group draws attention, contact and records to that group "
        "whatever its accuracy, and inspectors have found partnerships that monitored such "
        "disproportionality without understanding or acting on it."
    ),
    "fpr": (
        "False positive rate parity. Among $population who did not have the outcome, how "
        "often each group is flagged. Where a flag can lead to a sanction rather than an "
        "offer of support, this is the harm that matters most."
    ),
    "precision": ("Precision parity. Of those flagged, the share who had the outcome, per group."),
    "base_rate": "Base rate parity. Differences in recorded outcomes between groups.",
    "mean_score": "Mean score parity. Differences in the average score between groups.",
    "auc": "AUC parity. How well the score ranks $population within each group.",
}

CRITERION_TRADEOFF = Template("""<p>Why not every criterion at once: when groups' base rates
differ, a score cannot be calibrated within every group and also have equal false negative
and false positive rates across groups (Kleinberg, Mullainathan and Raghavan 2016;
Chouldechova 2017). The board has to choose which inequality matters most for this use; the
report shows all of them, with calibration by group below, so the choice is made in full
view.</p>""")

OPERATING = Template("""<p>$rule_text</p>
<p><strong>$n_flagged of $n $population are flagged ($share).</strong> $ties</p>
<p><strong>Rationale:</strong> $rationale</p>""")

NO_RATIONALE = (
    "No rationale was given for this operating point. A board should ask why this threshold "
    "or capacity was chosen, and what happens to those flagged."
)

NO_BASELINE = Template("""<p>No baseline was given. A baseline (for example the
indicator-count rule that many partnerships use, or the tool being replaced) audited the
same way shows whether the score is more or less even-handed than the alternative.</p>""")

BASELINE_INTRO = Template("""<p>The baseline <code>$baseline</code> was audited the same
way, on the same bootstrap replicates. $capacity The table sets the policy's ratios of the
score beside the baseline's.</p>""")

FIRST_AUDIT = Template("""<p>First audit: no previous audit was given to compare with.
Keep this report's JSON (<code>fairness.json</code>) and pass it to the next audit to see
what changed.</p>""")

CHANGES_INTRO = Template("""<p>The disparity ratios of the previous audit beside this
one's. $notes</p>""")

SUPPRESSED_INTRO = Template("""<p>As official statistics do, any figure resting on fewer
than $m $population is suppressed: a group of fewer than $m shows nothing but its name;
recall and false negative rate need $m with the outcome, false positive rate $m without it,
precision $m flagged, and a score bin of a group $m $population. Suppressed figures are
absent from this report and from its JSON, not hidden. Suppression here is primary only:
a suppressed group's size can sometimes be worked out from the total and the other groups'
sizes.</p>""")

NOTHING_SUPPRESSED = Template("<p>$name: nothing was suppressed.</p>")

METHOD = Template("""<p>Every figure is computed once, from the scores, the outcomes and the
group columns, and this report only displays it. Intervals are $level percentile bootstrap
intervals from $n_boot replicates that resample $population$cluster with replacement, each
keeping their flag (the audit is of the decisions as made). A ratio compares a group with its
grouping's reference group (the largest, unless another was named); its interval comes from
the same replicates. A ratio is flagged when its whole interval lies outside the band
$band, so a flag is a disparity the data show clearly, not one that might be noise; an
interval that straddles the band is not flagged but is not evidence of parity either.
Intersections (for example ethnicity and SEND together) are shown because a disparity can
hide inside a group that looks even-handed overall. Calibration bins are deciles of everyone's
scores (or each distinct score, when there are at most ten).</p>""")

SUMMARY_NO_FLAGS = "<p>No disparity ratio has its whole interval outside the band.</p>"

SUMMARY_FLAGS = Template("""<p><strong>$count disparity ratios have their whole interval
outside the band $band.</strong> Each is listed here and marked in the tables below.</p>""")

CROSS_CHECKS_INTRO = """<h3>From recorded data alone: two agencies' records of one harm</h3>
<p>True outcomes are known only for synthetic data. A partnership can still look for label
bias by comparing two agencies that record the same harm under different practices: where
the ratio of their records differs between groups, one agency records that group
differently, and the recorded outcome the model learns from carries the difference.</p>"""

NO_VERDICT = "<p>No fairness policy was applied to this audit.</p>"
