"""An account manager's book of business: pure context building (``context``), its
inputs (``inputs``) and charts (``charts``)."""
