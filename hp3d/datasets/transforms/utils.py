"""Helpers shared by the transforms."""
from typing import Dict

__all__ = ['describe_sample']


def describe_sample(results: Dict) -> str:
    """Name a sample in error messages: take, frame and hand when known.

    Args:
        results (dict): A sample as the transforms see it.

    Returns:
        str: e.g. ``"take 'cmu_bike_01' frame 1234 left hand"``.
    """
    take = results.get('take_name') or results.get('take_uid', '?')
    frame = results.get('frame_number', '?')
    hand = results.get('hand', '?')
    return f'take {take!r} frame {frame} {hand} hand'
