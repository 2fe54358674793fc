"""Teacher/student networks and distillation on acoustic images (installed as
``acoustic_camera.models``). Needs the ``models`` extra (torch, torchvision), imported lazily."""
