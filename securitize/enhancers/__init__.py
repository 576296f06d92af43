"""Credit enhancers as counterparties: their terms, the cash they pay, what it costs them."""
