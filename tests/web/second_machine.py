"""Another machine: a fresh process with its own empty artefact cache, configured only from the environment
(S3_* variables, as in docker-compose.yml). It loads a model version by its stored name and recommends.

    python -m tests.web.second_machine <artefact name> <history as JSON: [[item key, weight], ...]>
prints JSON: {"items": [...], "scores": [...], "cache": [entries of ARTEFACT_CACHE_DIR]}.
"""

import json
import os
import sys

import django


def main(name: str, history: str) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "hikmax_site.settings")
    django.setup()
    from django.conf import settings

    from recsys.ml.pipeline import TrainedRecommender
    from recsys.services import artefacts

    assert not any(settings.ARTEFACT_CACHE_DIR.iterdir()), "the second machine's cache must start empty"
    recommender = TrainedRecommender.load(artefacts.local_directory(name))
    [result] = recommender.recommend([[tuple(entry) for entry in json.loads(history)]], n=10)
    print(json.dumps({"items": list(result.items), "scores": [float(s) for s in result.scores],
                      "storage": type(artefacts.storage()).__name__,
                      "cache": sorted(path.name for path in settings.ARTEFACT_CACHE_DIR.iterdir())}))


if __name__ == "__main__":
    main(*sys.argv[1:3])
