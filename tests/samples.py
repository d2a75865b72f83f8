"""Small object declarations the tests share: the tutorial's Customer, Product, Order."""

CUSTOMER = """
object: customer
label: Customer
title: name
fields:
  name: {type: string, required: true, max_length: 120, search: true}
  email: {type: email, unique: true, search: true}
  phone: {type: phone, index: true}
  segment:
    type: choice
    values: {smb: Small business, ent: Enterprise}
    default: smb
    filter: true
  credit_limit: {type: money, min: 0, max: 1000000}
  active: {type: boolean, default: true}
  since: {type: date, default: "=today()"}
  tags: {type: multichoice, values: [vip, late_payer, partner]}
  orders: {type: has_many, object: order}
list:
  columns: [name, email, segment, active]
  sort: [name]
"""

PRODUCT = """
object: product
title: name
fields:
  code: {type: string, required: true, unique: true, max_length: 20, pattern: "[A-Z0-9-]+"}
  name: {type: string, required: true, search: true}
  price: {type: decimal, scale: 2, min: 0}
  stock: {type: integer, min: 0}
"""

ORDER = """
object: order
title: number
fields:
  number: {type: autonumber, format: "ORD-{YYYY}-{00000}"}
  customer: {type: link, object: customer, required: true}
  product: {type: link, object: product, on_delete: set_null}
  quantity: {type: integer, min: 1, default: 1}
  notes: text
  status:
    type: choice
    values: {new: New, paid: Paid, sent: Sent}
    default: new
    filter: true
list:
  columns: [number, customer, product, quantity, status]
"""

SHOP = {"customer": CUSTOMER, "product": PRODUCT, "order": ORDER}
