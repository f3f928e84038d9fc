from django.dispatch import Signal

# Sent with `model` (a ready TrainedModel) after a training job succeeded.
model_trained = Signal()

# Sent with `dataset` and `user_ids` (members with an account) when new interactions joined their histories:
# added on a member page or through the API (recsys.services.history.add_item) or by a dataset import.
# Sent inside the writing transaction where there is one; receivers that queue work do it on commit.
interactions_added = Signal()
