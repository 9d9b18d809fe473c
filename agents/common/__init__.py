"""Pieces the learning agents share: observation handling, networks, replay, normalisation."""
