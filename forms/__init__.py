"""WTForms classes by area; shared fields in `fields`, and how a service's refusal lands on a form in `errors`."""
