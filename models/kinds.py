"""The names of the models' kinds, roles and distillation forms: one owner, importable without
torch (the command line offers them as choices)."""

TEACHERS = ("dualcamnet", "resnet50", "avnet")
STUDENTS = ("hearnet", "soundnet5")
MODELS = ("dualcamnet", "hearnet", "soundnet5", "resnet50", "avnet")
AUDIO_MODELS = STUDENTS  # one microphone
VISUAL_MODELS = ("resnet50", "avnet")
MFCC_MODELS = ("dualcamnet", "avnet")  # they take the acoustic images
TRAIN_ROLES = ("teacher", "student", "distill")
ROLES = TRAIN_ROLES + ("localize",)
DISTILL_KINDS = ("soft", "hinton", "hint", "sequential")
LAYERS = ("embedding", "logits")
RECIPE_NAMES = ("quick", "paper")  # models.recipes.RECIPES, named here for the command line without torch
EXPERIMENT_PRESET_NAMES = ("small", "paper", "tiny")  # models.experiment.EXPERIMENT_PRESETS
