"""The jobs: each is a flow of `Call`s (wire.api) run the same way for one
pupil or a whole roster (`batch`). `links` fetches a repayment link,
`termination` ends a contract, `checks` and `onboarding` set a profile up,
`certificates` keeps the platform certificates.
"""
