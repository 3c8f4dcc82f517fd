"""What changed, announced by the service that changed it; the areas that depend on it listen.

A service never calls another area to keep that area's derived state fresh (onboarding, say): it
sends one of these blinker signals inside the same transaction, and the listener updates what it
keeps. Senders are the changed objects; listeners run synchronously, before the request commits.
"""
from blinker import Namespace

_signals = Namespace()

client_changed = _signals.signal("client-changed")  # sender: the ClientProfile
pet_changed = _signals.signal("pet-changed")  # sender: the Pet
card_changed = _signals.signal("card-changed")  # sender: the ClientProfile whose payment methods changed
form_answered = _signals.signal("form-answered")  # sender: the FormResponse
clients_imported = _signals.signal("clients-imported")  # sender: the ids of the clients an import touched
requirements_changed = _signals.signal("requirements-changed")  # sender: None; what clients must do has changed
visit_cancelled = _signals.signal("visit-cancelled")  # sender: the Visit just cancelled; was=its status before
fee_waived = _signals.signal("fee-waived")  # sender: the Visit whose late cancellation or no-show fee was waived
