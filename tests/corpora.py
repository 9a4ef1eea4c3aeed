"""Small news corpora written for the tests (no external data)."""

from __future__ import annotations

import itertools

BOILER = (
    "Related Articles\nSign up for our newsletter to get the latest headlines every morning.\n"
    "Comments\nShare this article on Facebook and Twitter. All rights reserved."
)

JAPAN_REUTERS = {
    "id": "reuters-japan",
    "title": "Japan's Kishida to dissolve parliament, calls snap election for October 31",
    "text": (
        "TOKYO (Reuters) - Japanese Prime Minister Fumio Kishida will dissolve the lower house of "
        "parliament on Thursday, setting the stage for a general election on October 31, barely a "
        "month after he took office. Kishida, who won the ruling Liberal Democratic Party leadership "
        "race last month, hopes to capitalise on a honeymoon period. The LDP and its coalition partner "
        "Komeito are expected to keep their majority, polls show."
    ),
    "source": "Reuters",
    "published": "2021-10-14T03:00:00Z",
}
JAPAN_INDEPENDENT = {
    "id": "independent-japan",
    "title": "Fumio Kishida: New Japanese leader dissolves lower house ahead of election",
    "text": (
        "Japan's new prime minister Fumio Kishida has dissolved the lower house, paving the way for "
        "a national vote on 31 October in which his Liberal Democratic Party is tipped to hold on to "
        "power. The move comes just ten days after Mr Kishida was sworn in. Surveys suggest the LDP "
        "and Komeito, its junior coalition partner, will retain a majority in the chamber."
    ),
    "source": "The Independent",
    "published": "2021-10-14T09:30:00Z",
}
CHILE_QUAKE = {
    "id": "ap-chile-quake",
    "title": "Magnitude 6.8 earthquake strikes off Chile coast, no tsunami warning",
    "text": (
        "A magnitude 6.8 earthquake struck off the coast of northern Chile near Antofagasta on "
        "Sunday, the U.S. Geological Survey said. Chile's navy said the quake did not meet the "
        "conditions to generate a tsunami. There were no immediate reports of damage or injuries "
        "in Antofagasta or the mining towns of the Atacama desert."
    ),
    "source": "AP",
    "published": "2021-10-10T12:00:00Z",
}
CHILE_QUAKE_2 = {
    "id": "bbc-chile-quake",
    "title": "Strong quake shakes northern Chile near Antofagasta",
    "text": (
        "A strong 6.8 magnitude quake shook northern Chile on Sunday, the USGS reported, with its "
        "epicentre off the coast near the port city of Antofagasta. The Chilean navy ruled out a "
        "tsunami. Mining companies in the Atacama region said operations were not affected and no "
        "damage was reported."
    ),
    "source": "BBC",
    "published": "2021-10-10T14:00:00Z",
}
INDONESIA_QUAKE = {
    "id": "afp-indonesia-quake",
    "title": "Magnitude 6.2 earthquake hits Indonesia's Sulawesi, killing at least 8",
    "text": (
        "A magnitude 6.2 earthquake struck Indonesia's Sulawesi island on Friday, killing at least "
        "eight people in Mamuju and injuring hundreds, the national disaster agency said. Buildings "
        "collapsed in Majene, and rescuers searched the rubble of a hospital. Thousands of residents "
        "fled to evacuation centres in West Sulawesi."
    ),
    "source": "AFP",
    "published": "2021-10-11T06:00:00Z",
}
INDONESIA_QUAKE_2 = {
    "id": "guardian-indonesia-quake",
    "title": "Deadly Sulawesi earthquake: rescuers search collapsed hospital in Mamuju",
    "text": (
        "Rescuers in Indonesia dug through the ruins of a collapsed hospital in Mamuju after a "
        "6.2-magnitude quake on West Sulawesi killed at least eight people, the disaster agency said. "
        "Hundreds were injured in Mamuju and Majene and thousands moved to evacuation centres."
    ),
    "source": "The Guardian",
    "published": "2021-10-11T10:00:00Z",
}
WIRE = (
    "The European Central Bank left its key interest rates unchanged on Thursday and said it would "
    "keep buying bonds under its pandemic emergency purchase programme at a moderately lower pace. "
    "ECB President Christine Lagarde told a news conference in Frankfurt that inflation would remain "
    "elevated for longer than expected but should ease next year, and that the bank would not be "
    "rushed into raising rates while the recovery was still fragile."
)
ECB_WIRE = {
    "id": "wire-ecb",
    "title": "ECB holds rates, slows bond buying",
    "text": WIRE,
    "source": "Reuters",
    "published": "2021-10-28T12:00:00Z",
}
ECB_REPRINT_1 = {
    "id": "daily-ecb",
    "title": "ECB keeps rates on hold and slows bond purchases",
    "text": "By Staff Writer\n"
    + WIRE.replace("on Thursday", "on Thursday, October 28,")
    + "\n"
    + BOILER,
    "source": "Daily Herald",
    "published": "2021-10-28T15:00:00Z",
}
ECB_REPRINT_2 = {
    "id": "courier-ecb",
    "title": "ECB holds rates, slows bond buying - Lagarde",
    "text": WIRE.replace("Christine Lagarde", "Christine Lagarde,")
    + "\n"
    + BOILER
    + "\nMost read\n",
    "source": "The Courier",
    "published": "2021-10-29T08:00:00Z",
}
FOOTBALL = {
    "id": "sport-1",
    "title": "Liverpool beat Watford 5-0 as Salah scores stunning goal",
    "text": (
        "Mohamed Salah scored a brilliant solo goal and Roberto Firmino hit a hat-trick as Liverpool "
        "thrashed Watford 5-0 at Vicarage Road on Saturday. " + BOILER
    ),
    "source": "Daily Herald",
    "published": "2021-10-16T18:00:00Z",
}

CORPUS = [
    JAPAN_REUTERS,
    CHILE_QUAKE,
    ECB_WIRE,
    INDONESIA_QUAKE,
    JAPAN_INDEPENDENT,
    ECB_REPRINT_1,
    CHILE_QUAKE_2,
    FOOTBALL,
    INDONESIA_QUAKE_2,
    ECB_REPRINT_2,
]
GOLD = {
    "reuters-japan": "japan",
    "independent-japan": "japan",
    "ap-chile-quake": "chile",
    "bbc-chile-quake": "chile",
    "afp-indonesia-quake": "indonesia",
    "guardian-indonesia-quake": "indonesia",
    "wire-ecb": "ecb",
    "daily-ecb": "ecb",
    "courier-ecb": "ecb",
    "sport-1": "football",
}


# Four weeks of one running issue, undated, three outlets a week: one story by their shared
# words, four by the week's own figure, verb and detail (what ``recut_size`` is for).
_WEEKS = (
    ("881,000", "fell", "Hurricane Laura hit Louisiana and Texas employers", "September"),
    ("719,000", "jumped", "Illinois reported a surge of filings after a fraud scheme", "March"),
    ("473,000", "dropped", "Vaccinations let restaurants in Ohio and Michigan reopen", "May"),
    ("412,000", "rose", "Automakers idled plants in Kentucky for chip shortages", "June"),
)
_CLOSES = (
    "Economists had expected fewer claims.",
    "The labor market recovery continues unevenly.",
    "Continuing claims also moved.",
)
WEEKLY_CLAIMS = [
    {
        "id": f"w{w}-{k}",
        "source": ("Reuters", "CNN", "Fox News")[k],
        "title": (
            f"Jobless claims {verb} to {fig} last week",
            f"U.S. weekly jobless claims {verb} to {fig}",
            f"{fig} Americans file new jobless claims",
        )[k],
        "text": (
            f"The number of Americans filing new claims for unemployment benefits {verb} to {fig} "
            f"last week, the Labor Department said on Thursday. {detail}, economists said of the "
            f"{month} figures. {_CLOSES[k]}"
        ),
        "story": f"week-{w}",
    }
    for w, (fig, verb, detail, month) in enumerate(_WEEKS)
    for k in range(3)
]


# Running issues beside the jobless claims: (what, who reports it, what is measured).
_ISSUES = (
    ("jobless claims", "the Labor Department", "Americans filing new claims for benefits"),
    ("mortgage rates", "Freddie Mac", "the average rate on a thirty-year home loan"),
    ("gasoline prices", "the motor club AAA", "the national average price of regular fuel"),
    ("crude stockpiles", "the Energy Information Administration", "commercial oil inventories"),
    ("rig counts", "Baker Hughes", "the number of active drilling rigs"),
    ("freight tonnage", "the American Trucking Associations", "the index of goods hauled by road"),
)
_PLACES = (
    "Louisiana",
    "Illinois",
    "Ohio",
    "Kentucky",
    "Oregon",
    "Georgia",
    "Arizona",
    "Maine",
    "Nevada",
    "Utah",
    "Iowa",
    "Vermont",
    "Texas",
    "Florida",
    "Alaska",
    "Montana",
    "Kansas",
    "Idaho",
    "Alabama",
    "Wyoming",
    "Delaware",
    "Hawaii",
    "Indiana",
    "Missouri",
)
_CAUSES = (
    "a hurricane",
    "a fraud scheme",
    "reopened restaurants",
    "chip shortages",
    "wildfires",
    "a port strike",
    "flooded refineries",
    "a blizzard",
    "tariff threats",
    "a heat wave",
    "layoffs at automakers",
    "a pipeline outage",
    "holiday hiring",
    "drought",
    "a rail strike",
    "tornadoes",
    "a cyberattack",
    "bridge closures",
    "a teachers strike",
    "an ice storm",
    "mine closures",
    "a casino shutdown",
    "a sugar harvest",
    "warehouse fires",
)
_MOVES = (
    ("fell", "jumped", "dropped", "rose"),
    ("slipped", "climbed", "sank", "surged"),
    ("eased", "soared", "tumbled", "edged up"),
    ("declined", "spiked", "plunged", "advanced"),
    ("retreated", "rebounded", "slumped", "increased"),
    ("dipped", "leapt", "collapsed", "gained"),
)
_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def running_issues(k: int) -> list[dict[str, str]]:
    """`k` (at most 6) undated running issues, four weeks each, three outlets a week:
    each issue one story by its shared words, four by each week's figure, verb, place
    and cause. An archive of such issues is what ``recut_archive`` reads as one."""
    out = []
    for i, (what, who, measured) in enumerate(_ISSUES[:k]):
        for w in range(4):
            j = 4 * i + w
            fig = f"{(i + 2) * 100 + 37 * w + 11:,}.{w + 1}"
            move, month, place, cause = _MOVES[i][w], _MONTHS[j % 12], _PLACES[j], _CAUSES[j]
            for o in range(3):
                out.append(
                    {
                        "id": f"i{i}w{w}-{o}",
                        "source": ("Reuters", "CNN", "Fox News")[o],
                        "title": (
                            f"U.S. {what} {move} to {fig} in {month}",
                            f"Weekly {what} {move} as {cause} hit {place}",
                            f"{what.capitalize()} {move} to {fig}",
                        )[o],
                        "text": (
                            f"The figure for {measured} {move} to {fig} in {month}, {who} "
                            f"said. {cause.capitalize()} in {place} drove it."
                        ),
                        "story": f"{i}-{w}",
                    }
                )
    return out


_QUAKE = [
    "A magnitude 7.1 earthquake struck off the coast of Miyagi late on Saturday.",
    "Residents of Sendai felt strong shaking for nearly a minute.",
    "The Japan Meteorological Agency briefly issued a tsunami advisory for the coast.",
    "East Japan Railway halted Tohoku Shinkansen services to inspect the tracks.",
    "Tohoku Electric said about 2,000 homes in Ishinomaki lost power.",
    "Prime Minister Kishida told reporters the government was gathering information.",
    "No abnormalities were found at the Onagawa nuclear plant, its operator said.",
]


def quake_reports(n: int) -> list[dict[str, str]]:
    """`n` (at most 35) undated reports of one event, each four of seven sentences
    about it: one story whose reports stay alike once their shared words are
    discounted, which the default re-cut leaves whole."""
    picks = list(itertools.combinations(range(len(_QUAKE)), 4))[:n]
    return [
        {
            "id": f"q{k}",
            "title": f"Strong quake hits Miyagi ({k})",
            "text": " ".join(_QUAKE[i] for i in pick),
        }
        for k, pick in enumerate(picks)
    ]


def weekly_headlines(n: int) -> list[dict[str, str]]:
    """`n` undated headlines of one running issue, a figure apiece: one story by default."""
    return [
        {"id": f"w{k}", "title": f"Weekly jobless claims change to {200 + 7 * k},000 last week"}
        for k in range(n)
    ]
