"""What kind of data a feature set holds: MNIST's digits, a person's image folder, and so on.

Pages, their controllers, the exports and the messages ask a feature set's `kind` how to name
and draw its items, what their truth is called and which keys answer them; none of them tests
which kind it is. A new kind is one module here (a `DataKind` subclass) that its loader gives to
the `FeatureSet` it makes.
"""

from tl_active.data.kinds.base import DataKind, answer_keys
from tl_active.data.kinds.image_folder import ImageFolderKind
from tl_active.data.kinds.mnist import MnistKind
from tl_active.data.kinds.weather import WeatherKind

__all__ = ["DataKind", "ImageFolderKind", "MnistKind", "WeatherKind", "answer_keys"]
