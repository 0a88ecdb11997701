"""The allowed values of every categorical column in the data contract.

One place for them: the schemas, the synthetic partnership and the feature definitions all
read these tuples, so a partnership that records another value changes it here once.
"""

SEX = ("F", "M")
"""Sex as recorded by schools (DfE census codes)."""

ETHNICITY = ("White", "Mixed", "Asian", "Black", "Other", "Unknown")
"""DfE major ethnic groups; "Other" includes Chinese, "Unknown" includes refused."""

SEN_STATUS = ("none", "sen_support", "ehcp")
"""Special educational needs: none, SEN support, or an education, health and care plan."""

EXCLUSION_KIND = ("suspension", "permanent")

EXCLUSION_REASON = (
    "persistent_disruptive_behaviour",
    "physical_assault_pupil",
    "physical_assault_adult",
    "verbal_abuse",
    "drug_or_alcohol",
    "damage",
    "use_or_threat_of_weapon",
    "bullying",
    "other",
)
"""A reduced set of the DfE exclusion reason codes."""

SOCIAL_CARE_KIND = ("early_help", "cin", "cp", "cla")
"""Early help, child in need, child protection plan, child looked after."""

SOCIAL_CARE_CATEGORY = (
    "abuse_or_neglect",
    "domestic_abuse",
    "family_dysfunction",
    "family_in_acute_stress",
    "parental_illness_or_disability",
    "child_disability",
    "child_mental_health",
    "extra_familial_harm",
    "socially_unacceptable_behaviour",
    "low_income",
    "absent_parenting",
)
"""Category of need or main factor recorded at assessment (after the CIN census)."""

POLICE_ROLE = ("victim", "suspect", "missing_person", "stop_search")

OFFENCE_GROUP = (
    "none",
    "violence_with_injury",
    "violence_without_injury",
    "robbery",
    "possession_of_weapons",
    "sexual_offences",
    "drug_offences",
    "theft",
    "criminal_damage",
    "public_order",
)
"""Home Office offence groups; "none" for missing-person reports and searches finding nothing."""

HEALTH_SETTING = ("emergency_department", "camhs_referral")

YOUTH_JUSTICE_OUTCOME = ("community_resolution", "caution", "court_order", "custody")

ACTIVITY = ("EET", "NEET", "not_known")
"""CCIS activity of a young person aged 16-17: in education, employment or training, or not."""

RELATIONSHIP = ("sibling", "peer")
