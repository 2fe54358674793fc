"""``acam live``: acoustic images over the video while recording, in a browser.

The path: a source (:mod:`.player` for the simulated DualCam, :func:`acoustic_camera.io.live.capture_live`
for a PortAudio array and a camera) pushes into a :class:`.feed.LiveFeed`; a :class:`.imager.LiveImager`
beamforms the newest frame; :mod:`.server` sends each picture to the browsers. :mod:`.run` ties
them together.
"""
